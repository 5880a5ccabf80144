// Behaviour the golden cases do not pin down: error reporting, refusals, the ChatML fallback, defaults.
#include "chat/template.h"

#include <gtest/gtest.h>

using nlohmann::json;
using rkchat::chat::ChatTemplate;
using rkchat::chat::TemplateError;

namespace {

std::string render(const std::string& source, const json& vars = json::object()) {
  json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  return ChatTemplate(source).render(messages, nullptr, vars);
}

std::string error_of(const std::string& source) {
  try {
    render(source);
  } catch (const TemplateError& e) {
    EXPECT_FALSE(e.refused()) << source;
    EXPECT_EQ(std::string(e.what()), "chat template: " + e.message());
    return e.message();
  }
  ADD_FAILURE() << "no error for: " << source;
  return "";
}

}  // namespace

TEST(ChatTemplate, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("ok\n  {% if %}"), "line 2, column 9: unexpected '%}'");
  EXPECT_EQ(error_of("{% for x in y %}"), "line 1, column 17: unexpected end of template, expected 'else'");
  EXPECT_EQ(error_of("{{ x | nosuchfilter }}"), "line 1, column 8: no filter named 'nosuchfilter'");
  EXPECT_EQ(error_of("{{ 'abc }}"), "line 1, column 4: unterminated string");
  EXPECT_EQ(error_of("{# open"), "line 1, column 1: missing end of comment tag");
  EXPECT_EQ(error_of("{% frobnicate %}"), "line 1, column 4: unknown or unsupported statement 'frobnicate'");
}

TEST(ChatTemplate, EvaluationErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("\n\n{{ messages[0].content + 1 }}"),
            "line 3, column 24: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(error_of("{{ nothing.field }}"), "line 1, column 11: 'nothing' is undefined");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "line 1, column 6: integer division or modulo by zero");
}

TEST(ChatTemplate, RaiseExceptionRefusesWithTheTemplatesMessage) {
  try {
    render("{% if messages[0].role == 'user' %}{{ raise_exception('Roles must alternate: ' ~ 2) }}{% endif %}");
    FAIL() << "not refused";
  } catch (const TemplateError& e) {
    EXPECT_TRUE(e.refused());
    EXPECT_EQ(e.message(), "Roles must alternate: 2");
  }
}

TEST(ChatTemplate, DefaultsFollowTransformers) {
  EXPECT_EQ(render("{{ add_generation_prompt }} {{ tools }} {{ documents is none }} {{ bos_token is defined }}"),
            "False None True False");
  EXPECT_EQ(render("{{ add_generation_prompt }} {{ enable_thinking }}",
                   {{"add_generation_prompt", true}, {"enable_thinking", false}}),
            "True False");
}

TEST(ChatTemplate, OrderedJsonKeepsToolKeyOrder) {
  auto tools = nlohmann::ordered_json::parse(R"([{"type": "function", "function": {"name": "f", "a": 1}}])");
  auto messages = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "x"}])");
  EXPECT_EQ(ChatTemplate("{{ tools | tojson }}").render(messages, tools, nlohmann::ordered_json::object()),
            R"([{"type": "function", "function": {"name": "f", "a": 1}}])");
}

TEST(ChatTemplate, StrftimeNowCanBePinned) {
  ChatTemplate t("Today: {{ strftime_now('%d %b %Y') }}");
  t.set_strftime_now([](const std::string& fmt) { return "[" + fmt + "]"; });
  EXPECT_EQ(t.render(json::array(), nullptr, json::object()), "Today: [%d %b %Y]");
  EXPECT_NE(ChatTemplate("{{ strftime_now('%Y') }}").render(json::array(), nullptr, json::object()), "");
}

TEST(ChatTemplate, ChatmlFallback) {
  json messages = json::array({{{"role", "system"}, {"content", "S"}},
                               {{"role", "user"}, {"content", "U"}},
                               {{"role", "assistant"}, {"content", nullptr}}});
  ChatTemplate t(rkchat::chat::chatml_template());
  EXPECT_EQ(t.render(messages, nullptr, {{"add_generation_prompt", true}}),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, MovesAndRendersRepeatedly) {
  ChatTemplate a("{% for m in messages %}{{ m.content }}{% endfor %}");
  ChatTemplate b = std::move(a);
  EXPECT_EQ(b.render(json::array({{{"content", "x"}}}), nullptr, json::object()), "x");
  EXPECT_EQ(b.render(json::array({{{"content", "y"}}}), nullptr, json::object()), "y");
}

TEST(ChatTemplate, RejectsNonObjectVariables) {
  EXPECT_THROW(ChatTemplate("x").render(json::array(), nullptr, json::array()), TemplateError);
}
