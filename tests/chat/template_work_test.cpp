// Hostile templates that do a lot of work inside few steps: every render is bounded by a work budget counted in
// bytes and items (not only loop steps), values share their text, and unique is linear. Before these bounds each
// of the refused templates below ran for tens of seconds or exhausted memory.
#include <gtest/gtest.h>

#include "chat/template.h"

using nlohmann::json;
using rkchat::chat::ChatTemplate;
using rkchat::chat::TemplateError;

namespace {

std::string render(const ChatTemplate& t) {
  json messages = json::array({{{"role", "user"}, {"content", "hi"}}});
  return t.render(messages, nullptr, json::object());
}

std::string render(const std::string& source) { return render(ChatTemplate(source)); }

std::string error_of(const std::string& source) {
  try {
    render(source);
  } catch (const TemplateError& e) {
    EXPECT_FALSE(e.refused());
    return e.what();
  }
  ADD_FAILURE() << "rendered without an error: " << source;
  return "";
}

bool names_work_limit(const std::string& error) {
  return error.find("template does too much work (over 128M units") != std::string::npos;
}

const std::string kBig = "{% set s = 'x' * 16000000 %}";
const std::string kLoop = "{% for i in range(60000) %}";

}  // namespace

TEST(TemplateWork, WorkInsideEachStepIsCounted) {
  EXPECT_TRUE(names_work_limit(error_of(kBig + kLoop + "{% set t = s|upper %}{% endfor %}")));
  EXPECT_TRUE(names_work_limit(error_of(kBig + kLoop + "{% set t = 'y' in s %}{% endfor %}")));
  EXPECT_TRUE(names_work_limit(error_of(kBig + kLoop + "{% set t = s|length %}{% endfor %}")));
  EXPECT_TRUE(names_work_limit(error_of(kBig + kLoop + "{% set t = s[1:] %}{% endfor %}")));
  EXPECT_TRUE(names_work_limit(error_of(kBig + kLoop + "{% set t = s == s ~ '' %}{% endfor %}")));
  EXPECT_TRUE(names_work_limit(error_of(kBig + kLoop + "{% set t = s.startswith('y') %}{% endfor %}")));
  EXPECT_TRUE(
      names_work_limit(error_of("{% set l = range(200000)|list %}" + kLoop + "{% set t = -1 in l %}{% endfor %}")));
  EXPECT_TRUE(names_work_limit(error_of(kLoop + "{% set t = range(262000)|reverse|sort %}{% endfor %}")));
  EXPECT_TRUE(names_work_limit(error_of(kLoop + "{% set t = 'ab'|replace('a', 'y' * 8000000) %}{% endfor %}")));
  // Growing a namespace list one item per step copies it each time: quadratic, refused.
  EXPECT_TRUE(names_work_limit(
      error_of("{% set ns = namespace(a=[]) %}{% for i in range(199999) %}{% set ns.a = ns.a + [i] %}{% endfor %}")));
}

TEST(TemplateWork, UniqueIsLinearAndHashesAsItCompares) {
  // 262,143 distinct items: quadratic comparisons would be 3e10, far over the budget.
  EXPECT_EQ(render("{{ range(262143)|unique|list|length }}"), "262143");
  EXPECT_EQ(render("{{ [1, 1.0, True, 0, False, 'a', 'a', [1, 2], [1, 2], {'a': 1, 'b': 2}, {'b': 2, 'a': 1}, "
                   "none, none]|unique|list }}"),
            "[1, 0, 'a', [1, 2], {'a': 1, 'b': 2}, None]");
  EXPECT_EQ(render("{{ ['A', 'a', 'B']|unique|list }} {{ ['A', 'a']|unique(case_sensitive=true)|list }}"),
            "['A', 'B'] ['A', 'a']");
}

TEST(TemplateWork, BigOperationsWithinTheBudgetRender) {
  EXPECT_EQ(render("{{ range(262000)|reverse|sort|first }}"), "0");
  // Values share their text: 200,000 references to one 16 MB string cost no copies.
  EXPECT_EQ(render(kBig + "{{ ([s] * 200000)|length }} {{ ([s] * 200000)|last|length }}"), "200000 16000000");
  // Slicing a string longer than the list cap works by code points.
  EXPECT_EQ(render("{% set t = 'aé' * 200000 %}{{ t[1:4] }} {{ t|length }} {{ t[-1] }}"), "éaé 400000 é");
}

TEST(TemplateWork, ListsAndStringsStayCapped) {
  EXPECT_NE(error_of(kBig + "{{ s.replace('x', 'x ').split()|length }}").find("string grows beyond"),
            std::string::npos);
  EXPECT_NE(error_of("{{ ('x ' * 8000000).split()|length }}").find("list grows beyond 262144 items"),
            std::string::npos);
  EXPECT_NE(error_of("{{ ('x\n' * 8000000).splitlines()|length }}").find("list grows beyond 262144 items"),
            std::string::npos);
  // A size times a count that wraps around 2^64 is still too big (it used to pass the check and loop forever).
  EXPECT_NE(error_of("{{ ('abcd' * 4611686018427387904)|length }}").find("string grows beyond 16777216 bytes"),
            std::string::npos);
  EXPECT_NE(error_of("{{ ([1, 2, 3, 4] * 4611686018427387904)|length }}").find("list grows beyond 262144 items"),
            std::string::npos);
  EXPECT_EQ(render("{{ '' * 5 }}|{{ 'ab' * 3 }}|{{ [1] * 0 }}|{{ 'xyz' * 5000000 == 'xyz' * 5000000 }}"),
            "|ababab|[]|True");
  EXPECT_NE(error_of("{% for c in 'x' * 300000 %}{% endfor %}").find("more than 262144 characters"), std::string::npos);
  EXPECT_NE(error_of("{% for i in range(199999) %}{{ 'x' * 1000 }}{% endfor %}").find("string grows beyond"),
            std::string::npos);
}

TEST(TemplateWork, EachRenderHasItsOwnBudget) {
  // About three quarters of the budget per render (a 12 MB string made, upper-cased, counted): three renders in
  // a row succeed.
  ChatTemplate t("{{ ('x' * 12000000)|upper|length }}");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(render(t), "12000000");
}

TEST(TemplateWork, TheBudgetCanBeLowered) {
  ChatTemplate t("{{ ('x' * 2000000)|length }}");
  EXPECT_EQ(render(t), "2000000");
  t.set_max_work(1'000'000);
  try {
    render(t);
    ADD_FAILURE() << "no error";
  } catch (const TemplateError& e) {
    EXPECT_NE(std::string(e.what()).find("template does too much work (over 1M units"), std::string::npos);
  }
}
