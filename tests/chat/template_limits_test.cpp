// Hostile input to the template engine: every recursion over a structure the user controls (template text,
// messages JSON, values a template builds) is bounded and gives an error naming the bound, never a stack
// overflow. Inputs go well past each bound; before the bounds existed each of these crashed the process.
#include <gtest/gtest.h>

#include "chat/json_input.h"
#include "chat/output_parser.h"
#include "chat/template.h"

using nlohmann::json;
using rkchat::chat::ChatTemplate;
using rkchat::chat::TemplateError;

namespace {

json one_message() { return json::array({{{"role", "user"}, {"content", "hi"}}}); }

std::string render(const std::string& source, const json& messages = one_message()) {
  return ChatTemplate(source).render(messages, nullptr, json::object());
}

// The TemplateError's message for `source`, or a test failure when it renders.
std::string error_of(const std::string& source, const json& messages = one_message()) {
  try {
    render(source, messages);
  } catch (const TemplateError& e) {
    EXPECT_FALSE(e.refused());
    return e.message();
  }
  ADD_FAILURE() << "rendered without an error: " << source.substr(0, 80);
  return "";
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string joined(const std::string& term, const std::string& sep, size_t n) {
  return term + repeat(sep + term, n - 1);
}

// `[[[...]]]` nested n deep.
std::string nested_brackets(size_t n) { return repeat("[", n) + repeat("]", n); }

}  // namespace

TEST(TemplateLimits, LongOperatorChainsAreOneNodeAndRender) {
  EXPECT_EQ(render("{{ " + joined("1", " + ", 20'000) + " }}"), "20000");
  EXPECT_EQ(render("{{ " + joined("'a'", " ~ ", 50'000) + " }}"), std::string(50'000, 'a'));
  EXPECT_EQ(render("{{ " + joined("2", " * ", 60) + " - " + joined("1", " - ", 3) + " }}"), "1152921504606846973");
  // The fold keeps Python's left associativity and names the operator that failed.
  EXPECT_EQ(render("{{ 10 - 4 - 3 }} {{ 2 ** 3 ** 2 }} {{ 'a' ~ 1 ~ none }}"), "3 64 a1None");
  EXPECT_EQ(error_of("{{ 1 + 2 + 'x' }}"), "line 1, column 10: unsupported operand type(s) for +: 'int' and 'str'");
}

TEST(TemplateLimits, LongPostfixAndFilterChainsAreRefused) {
  const std::string limit = "expression nested deeper than 256 levels";
  EXPECT_NE(error_of("{{ \"a\"" + repeat("|trim", 40'000) + " }}").find(limit), std::string::npos);
  EXPECT_NE(error_of("{{ messages" + repeat(".x", 100'000) + " }}").find(limit), std::string::npos);
  EXPECT_NE(error_of("{{ messages" + repeat("[0]", 100'000) + " }}").find(limit), std::string::npos);
  EXPECT_NE(error_of("{{ f" + repeat("()", 100'000) + " }}").find(limit), std::string::npos);
  EXPECT_NE(error_of("{{ " + joined("x", " and ", 50'000) + " }}").find(limit), std::string::npos);
  EXPECT_NE(error_of("{{ " + joined("x", " or ", 50'000) + " }}").find(limit), std::string::npos);
  // A chain within the bound renders.
  EXPECT_EQ(render("{{ ' a '" + repeat("|trim", 200) + " }}"), "a");
}

TEST(TemplateLimits, DeepBracketsAndBlocksAreRefused) {
  const std::string limit = "template nested deeper than 96 levels";
  EXPECT_NE(error_of("{{ " + repeat("(", 100'000) + "1" + repeat(")", 100'000) + " }}").find(limit), std::string::npos);
  EXPECT_NE(error_of("{{ " + nested_brackets(100'000) + " }}").find(limit), std::string::npos);
  EXPECT_NE(error_of("{{ " + repeat("-", 100'000) + "1 }}").find(limit), std::string::npos);
  EXPECT_NE(error_of("{{ " + repeat("not ", 100'000) + "1 }}").find(limit), std::string::npos);
  EXPECT_NE(error_of(repeat("{% if 1 %}", 100'000) + repeat("{% endif %}", 100'000)).find(limit), std::string::npos);
}

TEST(TemplateLimits, EvaluationDepthIsBoundedAcrossMacroCalls) {
  // Each macro call nests 40 blocks; 40 nested calls would be 1,600 levels of evaluation.
  std::string body = repeat("{% if 1 %}", 40) + "{{ m(n - 1) if n > 0 }}" + repeat("{% endif %}", 40);
  std::string source = "{% macro m(n) %}" + body + "{% endmacro %}{{ m(40) }}";
  EXPECT_NE(error_of(source).find("template evaluation nested deeper than 512 levels"), std::string::npos);
}

TEST(TemplateLimits, NamespaceValuesNestBoundedly) {
  std::string source =
      "{% set ns = namespace(a=1) %}{% for i in range(100000) %}{% set ns.a = [ns.a] %}{% endfor %}{{ ns.a }}";
  EXPECT_NE(error_of(source).find("a namespace value nested deeper than 256 levels"), std::string::npos);
  // Printing and tojson of values nested past their bound (namespace nesting plus literal brackets).
  std::string deep = "{% set ns = namespace(a=1) %}{% for i in range(250) %}{% set ns.a = [ns.a] %}{% endfor %}";
  std::string wrapped = repeat("[", 40) + "ns.a" + repeat("]", 40);
  EXPECT_NE(error_of(deep + "{{ " + wrapped + " }}").find("value nested deeper than 256 levels to print"),
            std::string::npos);
  EXPECT_NE(error_of(deep + "{{ " + wrapped + "|tojson }}").find("tojson: value nested deeper than 256 levels"),
            std::string::npos);
  EXPECT_EQ(render(deep + "{{ ns.a|tojson|length }}"), "501");
}

TEST(TemplateLimits, DeeplyNestedMessagesAreRefusedNamingTheVariable) {
  const std::string plain = "{% for m in messages %}{{ m.role }}: {{ m.content }}{% endfor %}";
  json deep = json::parse("[{\"role\":\"user\",\"content\":\"hi\",\"x\":" + nested_brackets(100'000) + "}]");
  EXPECT_EQ(error_of(plain, deep), "messages: JSON nested deeper than 256 levels");
  json bare = json::parse(nested_brackets(1'000'000));
  EXPECT_EQ(error_of(plain, bare), "messages: JSON nested deeper than 256 levels");
  try {
    ChatTemplate(plain).render(one_message(), nullptr, json{{"extra", json::parse(nested_brackets(100'000))}});
    ADD_FAILURE() << "no error";
  } catch (const TemplateError& e) {
    EXPECT_STREQ(e.what(), "chat template: extra: JSON nested deeper than 256 levels");
  }
  // Nesting within the bound renders.
  json ok = json::parse("[{\"role\":\"user\",\"content\":\"hi\",\"x\":" + nested_brackets(200) + "}]");
  EXPECT_EQ(render(plain, ok), "user: hi");
}

TEST(TemplateLimits, JsonInputRefusesDeepNestingBeforeParsing) {
  using rkchat::chat::JsonInputError;
  using rkchat::chat::parse_ordered_json_input;
  try {
    parse_ordered_json_input(nested_brackets(1'000'000));
    ADD_FAILURE() << "no error";
  } catch (const JsonInputError& e) {
    EXPECT_STREQ(e.what(), "JSON nested deeper than 256 levels (at byte 256)");
  }
  EXPECT_THROW(rkchat::chat::parse_json_input("[{\"a\":" + nested_brackets(100'000) + "}]"), JsonInputError);
  // Brackets inside strings (escaped quotes included) do not count; the deepest accepted nesting parses.
  auto j = parse_ordered_json_input("[\"" + repeat("[{\\\"", 1000) + "\"]");
  EXPECT_EQ(j[0].get<std::string>().size(), 3000u);
  EXPECT_EQ(parse_ordered_json_input(nested_brackets(256)).size(), 1u);
  // Every parse failure is the same error type: a syntax error, a number out of range.
  EXPECT_THROW(parse_ordered_json_input("[1,"), JsonInputError);
  EXPECT_THROW(parse_ordered_json_input("[1e999]"), JsonInputError);
}

// A call streams from its name on, so a deeply nested one stays a call, but its arguments are only passed on as
// text: nothing recurses over them.
TEST(TemplateLimits, DeeplyNestedToolCallArgumentsStayText) {
  rkchat::chat::OutputParser p(false);
  auto d = p.push("<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": " + nested_brackets(100'000) + "}}</tool_call>");
  d.append(p.finish());
  EXPECT_EQ(d.content, "");
  ASSERT_EQ(p.tool_calls().size(), 1u);
  EXPECT_EQ(p.tool_calls()[0].arguments, nlohmann::json::object());
  EXPECT_EQ(p.tool_calls()[0].arguments_text, "{\"a\":" + nested_brackets(100'000) + "}");
  // The same call nested within the bound is a tool call.
  rkchat::chat::OutputParser q(false);
  q.push("<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": " + nested_brackets(100) + "}}</tool_call>");
  q.finish();
  ASSERT_EQ(q.tool_calls().size(), 1u);
}

TEST(TemplateLimits, RaisedExceptionSaysTheChatTemplateRaisedIt) {
  try {
    render("{{ raise_exception('nope') }}");
    ADD_FAILURE() << "not refused";
  } catch (const TemplateError& e) {
    EXPECT_TRUE(e.refused());
    EXPECT_STREQ(e.what(), "chat template raised: nope");
    EXPECT_EQ(e.message(), "nope");
  }
}
