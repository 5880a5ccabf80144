"""Shared fixtures of the end-to-end tests: where the rkchat binary, the build and the reference files are."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def rkchat_bin():
    path = pathlib.Path(os.environ.get("RKCHAT_BIN", ROOT / "build" / "release" / "rkchat"))
    if not path.exists():
        pytest.fail(f"rkchat binary not found at {path} (build it, or set RKCHAT_BIN)")
    return str(path)


@pytest.fixture(scope="session")
def build_dir(rkchat_bin):
    return pathlib.Path(os.environ.get("RKCHAT_BUILD_DIR", pathlib.Path(rkchat_bin).parent))


@pytest.fixture(scope="session")
def fixtures_dir():
    path = pathlib.Path(os.environ.get("RKCHAT_FIXTURES_DIR", ROOT.parent / "shared" / "fixtures"))
    if not path.is_dir():
        pytest.skip(f"reference fixtures not found at {path}")
    return path


@pytest.fixture(scope="session")
def smollm2():
    """The real SmolLM2-135M-Instruct model that scripts/fetch-smollm2.sh caches."""
    path = os.environ.get("RKCHAT_SMOLLM2") or str(
        pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache"))
        / "rkchat" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not pathlib.Path(path).is_file():
        pytest.skip("SmolLM2-135M-Instruct is not cached (scripts/fetch-smollm2.sh could not reach the registry)")
    return path


@pytest.fixture(scope="session")
def test_data():
    return ROOT / "tests" / "data"
