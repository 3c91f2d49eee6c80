#include "llmserve/tokenizer/chat_template.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "llmserve/common/error.h"
#include "spec_json.h"

namespace llmserve::tokenizer {
namespace {

using nlohmann::json;

constexpr std::string_view kImStart = "<|im_start|>";
constexpr std::string_view kImEnd = "<|im_end|>";
constexpr std::string_view kSystemTurnStart = "<|im_start|>system\n";
constexpr std::string_view kSystemTurnEnd = "<|im_end|>\n";
constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

// Markers of the chat formats people are most likely to point us at, so that the error says what
// the template is rather than only what it is not.
struct KnownMarker {
  std::string_view marker;
  std::string_view family;
};
constexpr std::array<KnownMarker, 5> kKnownMarkers = {{
    {"<|start_header_id|>", "Llama 3"},
    {"[INST]", "Llama 2 / Mistral"},
    {"<start_of_turn>", "Gemma"},
    {"<|user|>", "Phi-3 / Zephyr"},
    {"<｜User｜>", "DeepSeek"},
}};

std::string unsupported_reason(std::string_view jinja) {
  constexpr std::string_view kExpected = "only ChatML templates (\"<|im_start|>\") are rendered";
  if (jinja.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return fmt::format("unsupported chat template (empty source; {})", kExpected);
  }
  for (const KnownMarker& known : kKnownMarkers) {
    if (jinja.find(known.marker) != std::string_view::npos) {
      return fmt::format("unsupported chat template ({} style, uses \"{}\"; {})", known.family,
                         known.marker, kExpected);
    }
  }
  // Unknown: quote the start with whitespace runs collapsed, enough to recognise the template.
  constexpr std::size_t kSnippetChars = 48;
  std::string snippet;
  bool in_space = false;
  for (const char c : jinja.substr(jinja.find_first_not_of(" \t\r\n"))) {
    if (snippet.size() >= kSnippetChars) break;
    const bool space = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    if (space && in_space) continue;
    snippet += space ? ' ' : c;
    in_space = space;
  }
  return fmt::format("unsupported chat template (begins \"{}\"; {})", snippet, kExpected);
}

// Jinja's escapes in string literals are Python's; the ones templates use are enough here.
char unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case 'r':
      return '\r';
    default:
      return c;  // \\, \' and \"
  }
}

// The decoded string literals inside the source's {{ }} and {% %} tags, in order. Text outside
// tags and {# #} comments is skipped: the Qwen templates emit every turn from a literal.
std::vector<std::string> string_literals(std::string_view source) {
  std::vector<std::string> literals;
  bool in_tag = false;
  std::size_t i = 0;
  while (i < source.size()) {
    if (!in_tag) {
      const std::size_t open = source.find('{', i);
      if (open == std::string_view::npos || open + 1 >= source.size()) break;
      const char kind = source[open + 1];
      if (kind == '{' || kind == '%') {
        in_tag = true;
        i = open + 2;
      } else if (kind == '#') {
        const std::size_t close = source.find("#}", open + 2);
        if (close == std::string_view::npos) break;
        i = close + 2;
      } else {
        i = open + 1;
      }
      continue;
    }
    const char c = source[i];
    if (c == '\'' || c == '"') {
      std::string value;
      std::size_t j = i + 1;
      while (j < source.size() && source[j] != c) {
        if (source[j] == '\\' && j + 1 < source.size()) {
          value += unescape(source[j + 1]);
          j += 2;
        } else {
          value += source[j++];
        }
      }
      literals.push_back(std::move(value));
      i = j + 1;
    } else if ((c == '}' || c == '%') && i + 1 < source.size() && source[i + 1] == '}') {
      in_tag = false;
      i += 2;
    } else {
      ++i;
    }
  }
  return literals;
}

// Qwen2/2.5 write the system turn they insert as one literal, system header to <|im_end|>;
// Qwen3's literals around messages[0].content stop at the header, so they yield nothing.
std::optional<std::string> find_default_system_prompt(std::string_view jinja) {
  for (const std::string& literal : string_literals(jinja)) {
    const std::string_view text = literal;
    if (text.size() < kSystemTurnStart.size() + kSystemTurnEnd.size() ||
        !text.starts_with(kSystemTurnStart) || !text.ends_with(kSystemTurnEnd)) {
      continue;
    }
    const std::string_view prompt = text.substr(
        kSystemTurnStart.size(), text.size() - kSystemTurnStart.size() - kSystemTurnEnd.size());
    if (prompt.find(kImStart) != std::string_view::npos ||
        prompt.find(kImEnd) != std::string_view::npos) {
      continue;  // more than one turn in the literal: not a plain system prompt
    }
    return std::string(prompt);
  }
  return std::nullopt;
}

// Python's str.lstrip('\n'), rstrip('\n') and strip('\n'), as the Qwen3 template calls them.
std::string_view lstrip_newlines(std::string_view text) {
  const std::size_t begin = text.find_first_not_of('\n');
  return begin == std::string_view::npos ? std::string_view() : text.substr(begin);
}
std::string_view rstrip_newlines(std::string_view text) {
  const std::size_t last = text.find_last_not_of('\n');
  return last == std::string_view::npos ? std::string_view() : text.substr(0, last + 1);
}
std::string_view strip_newlines(std::string_view text) {
  return lstrip_newlines(rstrip_newlines(text));
}

// Qwen3's split of an assistant message: the answer is what follows the last </think>, the
// reasoning what precedes the first one, after the last <think> before it.
struct ReasonedContent {
  std::string_view reasoning;
  std::string_view content;
};
ReasonedContent split_reasoning(std::string_view content) {
  const std::size_t first_close = content.find(kThinkClose);
  if (first_close == std::string_view::npos) return {{}, content};
  const std::size_t last_close = content.rfind(kThinkClose);
  std::string_view reasoning = rstrip_newlines(content.substr(0, first_close));
  if (const std::size_t open = reasoning.rfind(kThinkOpen); open != std::string_view::npos) {
    reasoning.remove_prefix(open + kThinkOpen.size());
  }
  return {lstrip_newlines(reasoning),
          lstrip_newlines(content.substr(last_close + kThinkClose.size()))};
}

// Qwen3 wraps a tool's answer in a user turn; such a turn is not a query.
bool is_tool_response(const ChatMessage& message) {
  return message.content.starts_with("<tool_response>") &&
         message.content.ends_with("</tool_response>");
}

void append_turn(std::string& out, std::string_view role, std::string_view content) {
  out += kImStart;
  out += role;
  out += '\n';
  out += content;
  out += kImEnd;
  out += '\n';
}

}  // namespace

ChatTemplate::ChatTemplate(std::optional<std::string> default_system_prompt, bool splits_reasoning)
    : default_system_prompt_(std::move(default_system_prompt)),
      splits_reasoning_(splits_reasoning) {}

std::optional<ChatTemplate> ChatTemplate::from_directory(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "tokenizer_config.json";
  if (!std::filesystem::exists(file)) return std::nullopt;
  const json root = read_json_file(file);
  if (!root.is_object()) throw Error("{}: expected a JSON object", file.string());
  const auto field = root.find("chat_template");
  if (field == root.end() || field->is_null()) return std::nullopt;

  std::string source;
  if (field->is_string()) {
    source = field->get<std::string>();
  } else if (field->is_array()) {
    // Named templates (e.g. "default" and "tool_use"); transformers picks "default" too.
    std::vector<std::string> names;
    const json* chosen = nullptr;
    for (const json& entry : *field) {
      if (!entry.is_object()) continue;
      const auto name = entry.find("name");
      if (name == entry.end() || !name->is_string()) continue;
      names.push_back(name->get<std::string>());
      if (names.back() == "default") {
        chosen = &entry;
        break;
      }
    }
    if (chosen == nullptr) {
      throw Error("{}: chat_template lists no template named \"default\" (names: [{}])",
                  file.string(), fmt::join(names, ", "));
    }
    const auto text = chosen->find("template");
    if (text == chosen->end() || !text->is_string()) {
      throw Error("{}: chat_template \"default\" has no \"template\" string", file.string());
    }
    source = text->get<std::string>();
  } else {
    throw Error("{}: chat_template is a JSON {}, expected a string or a list of templates",
                file.string(), field->type_name());
  }

  try {
    return from_source(source);
  } catch (const Error& e) {
    throw Error("{}: {}", file.string(), e.what());
  }
}

ChatTemplate ChatTemplate::from_source(std::string_view jinja) {
  if (jinja.find(kImStart) == std::string_view::npos) throw Error(unsupported_reason(jinja));
  return ChatTemplate(find_default_system_prompt(jinja),
                      jinja.find(kThinkClose) != std::string_view::npos);
}

// Qwen3's enable_thinking is not exposed: the OpenAI API has no field for it, and by default the
// template lets the model decide whether to think.
std::string ChatTemplate::render(std::span<const ChatMessage> messages,
                                 bool add_generation_prompt) const {
  if (messages.empty()) throw Error("cannot render a chat template for an empty message list");
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    if (role != "system" && role != "user" && role != "assistant") {
      throw Error("chat message {} has role \"{}\"; expected system, user or assistant", i, role);
    }
  }

  std::string out;
  std::size_t first = 0;
  if (messages[0].role == "system") {
    append_turn(out, "system", messages[0].content);
    first = 1;
  } else if (default_system_prompt_) {
    append_turn(out, "system", *default_system_prompt_);
  }

  // Qwen3 keeps reasoning only in the assistant turns that answer the last user query (the
  // template's ns.last_query_index, the last message when there is no query).
  std::size_t last_query = messages.size() - 1;
  for (std::size_t i = messages.size(); i-- > 0;) {
    if (messages[i].role == "user" && !is_tool_response(messages[i])) {
      last_query = i;
      break;
    }
  }

  for (std::size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& message = messages[i];
    if (message.role != "assistant" || !splits_reasoning_) {
      append_turn(out, message.role, message.content);
      continue;
    }
    const auto [reasoning, content] = split_reasoning(message.content);
    out += kImStart;
    out += "assistant\n";
    if (i > last_query && (i + 1 == messages.size() || !reasoning.empty())) {
      out += "<think>\n";
      out += strip_newlines(reasoning);
      out += "\n</think>\n\n";
      out += lstrip_newlines(content);
    } else {
      out += content;
    }
    out += kImEnd;
    out += '\n';
  }

  if (add_generation_prompt) {
    out += kImStart;
    out += "assistant\n";
  }
  return out;
}

std::string_view ChatTemplate::family() const { return "chatml"; }

const std::optional<std::string>& ChatTemplate::default_system_prompt() const {
  return default_system_prompt_;
}

}  // namespace llmserve::tokenizer
