#pragma once
// A model's chat template: recognised from the Jinja source of `chat_template` in
// tokenizer_config.json and rendered natively, without a Jinja interpreter. Only the family the
// source is recognised as is rendered, following that family's template definition for the
// system, user and assistant roles; tools and tool messages are out of scope (the API rejects
// them). Supported: ChatML as Qwen 1.5/2/2.5/3 write it. Immutable; safe to use from any thread.
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace llmserve::tokenizer {

struct ChatMessage {
  std::string role;     // "system", "user" or "assistant" (the API validates roles before)
  std::string content;  // text (list-of-parts content is joined by the API before)
};

class ChatTemplate {
 public:
  // Reads <dir>/tokenizer_config.json. `chat_template` may be a string, or a list of
  // {"name", "template"} objects (the one named "default" is used). Returns nullopt when the file
  // or the field is absent (or null). Throws llmserve::Error naming the file when it is malformed,
  // when a list has no "default" entry, or when the template is not a family rendered here.
  static std::optional<ChatTemplate> from_directory(const std::filesystem::path& dir);

  // Recognises the family from the template source. ChatML is recognised by "<|im_start|>"; its
  // default system prompt is the system turn written whole as one string literal (Qwen2's
  // '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n'), and a source that mentions
  // "</think>" gets Qwen3's reasoning handling. Throws llmserve::Error "unsupported chat template
  // (...)" quoting a recognisable snippet of anything else, the empty source included.
  static ChatTemplate from_source(std::string_view jinja);

  // The prompt text for `messages`: `<|im_start|>{role}\n{content}<|im_end|>\n` per message,
  // after the default system turn when messages[0] is not a system message and the template has
  // one; `add_generation_prompt` appends "<|im_start|>assistant\n". With Qwen3's reasoning
  // handling, an assistant turn's "<think>...</think>" is dropped before the last user query and
  // kept (re-formatted) after it. Throws llmserve::Error for an empty list or a role other than
  // system, user and assistant.
  std::string render(std::span<const ChatMessage> messages, bool add_generation_prompt) const;

  std::string_view family() const;  // "chatml"
  // The system prompt the template inserts when the conversation has none (Qwen2/2.5), if any.
  const std::optional<std::string>& default_system_prompt() const;

 private:
  ChatTemplate(std::optional<std::string> default_system_prompt, bool splits_reasoning);

  std::optional<std::string> default_system_prompt_;
  bool splits_reasoning_;  // Qwen3: assistant content carries "<think>...</think>"
};

}  // namespace llmserve::tokenizer
