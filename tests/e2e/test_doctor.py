"""`rkchat doctor` on fake sysroots: an RK3588 board with clocks pinned and not, one without its NPU driver,
an x86 machine."""
import json
import subprocess

import pytest


def write(root, path, text):
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(text.encode() if isinstance(text, str) else text)


def rk3588(root, governor="performance", driver=True):
    write(root, "/proc/device-tree/compatible", b"radxa,rock-5b\0rockchip,rk3588\0")
    write(root, "/proc/cpuinfo", "".join(
        f"processor\t: {i}\nFeatures\t: fp asimd asimddp\nCPU part\t: {'0xd05' if i < 4 else '0xd0b'}\n\n"
        for i in range(8)))
    write(root, "/proc/meminfo", "MemTotal:       16315204 kB\nMemAvailable:   15000000 kB\n")
    for policy, cpus in (("policy0", "0 1 2 3"), ("policy4", "4 5"), ("policy6", "6 7")):
        base = f"/sys/devices/system/cpu/cpufreq/{policy}/"
        write(root, base + "related_cpus", cpus)
        write(root, base + "cpuinfo_max_freq", "2352000")
        write(root, base + "scaling_governor", governor + "\n")
    write(root, "/sys/class/devfreq/fdab0000.npu/governor", governor + "\n")
    write(root, "/sys/class/devfreq/dmc/governor", governor + "\n")
    if driver:
        write(root, "/sys/kernel/debug/rknpu/version", "RKNPU driver: v0.9.8\n")
        write(root, "/sys/kernel/debug/rknpu/load", "NPU load:  Core0:  0%, Core1:  0%, Core2:  0%,\n")


def doctor(rkchat_bin, root, *args):
    r = subprocess.run([rkchat_bin, "doctor", "--sysroot", str(root), "--json", *args], capture_output=True,
                       text=True, timeout=60)
    report = json.loads(r.stdout)
    return r.returncode, report, {c["name"]: c for c in report["checks"]}


def test_rk3588_pinned(rkchat_bin, tmp_path):
    rk3588(tmp_path)
    rc, report, checks = doctor(rkchat_bin, tmp_path)
    assert checks["soc"]["value"] == "RK3588"
    assert checks["npu-driver"]["verdict"] == "ok"
    assert all(c["verdict"] == "ok" for c in report["checks"] if c["name"].endswith("governor"))
    assert report["verdict"] == "warn"  # no RKLLM runtime installed on this fake board
    assert rc == 0


def test_rk3588_not_pinned(rkchat_bin, tmp_path):
    rk3588(tmp_path, governor="ondemand")
    rc, report, _ = doctor(rkchat_bin, tmp_path)
    slow = [c for c in report["checks"] if c["name"].endswith("governor")]
    assert len(slow) == 5 and all(c["verdict"] == "warn" for c in slow)
    assert all("echo performance | sudo tee" in c["fix"] for c in slow)
    text = subprocess.run([rkchat_bin, "doctor", "--sysroot", str(tmp_path)], capture_output=True, text=True).stdout
    assert "fix: " in text and "sudo tee /sys/devices/system/cpu/cpufreq/policy4/scaling_governor" in text


def test_no_npu_driver(rkchat_bin, tmp_path):
    rk3588(tmp_path, driver=False)
    rc, report, checks = doctor(rkchat_bin, tmp_path)
    assert checks["npu-driver"]["verdict"] == "fail"
    assert report["verdict"] == "fail" and rc == 1


def test_x86_machine(rkchat_bin, tmp_path):
    write(tmp_path, "/proc/cpuinfo", "processor\t: 0\nmodel name\t: Fake Xeon\nflags\t\t: sse2 avx2 fma\n")
    write(tmp_path, "/proc/meminfo", "MemTotal:       8000000 kB\nMemAvailable:   4000000 kB\n")
    rc, report, checks = doctor(rkchat_bin, tmp_path)
    assert checks["soc"]["verdict"] == "info" and "npu-driver" not in checks
    assert checks["isa"]["value"] == "avx2 fma"
    assert report["verdict"] == "ok" and rc == 0


@pytest.mark.parametrize("toolkit,verdict", [("1.2.1", "ok"), ("1.2.2", "warn"), ("1.3.0", "fail")])
def test_rkllm_model_against_runtimes(rkchat_bin, tmp_path, toolkit, verdict):
    rk3588(tmp_path)
    write(tmp_path, "/usr/lib/librkllmrt.so", "ELF rkllm-runtime version: 1.2.1 ...")
    model = tmp_path / "m.rkllm"
    model.write_bytes(b"w" * 64 + f"rkllm-toolkit version: {toolkit}".encode())
    _, _, checks = doctor(rkchat_bin, tmp_path, "-m", str(model))
    assert checks["rkllm-runtime"]["value"].startswith("1.2.1")
    assert checks["model-runtime"]["verdict"] == verdict
