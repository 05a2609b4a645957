#include "parti/runtime/secrets.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace parti {

namespace {

/// The userinfo of a URL ("user:pw" of "nats://user:pw@host:4222"): where it starts and how
/// long it is; nothing when the URL has none. The authority ends at the first '/', '?' or '#'
/// after the scheme; the userinfo is what precedes its last '@' (a password may contain '@').
struct userinfo_span {
  std::size_t begin = 0;
  std::size_t size = 0;
};

std::optional<userinfo_span> find_userinfo(std::string_view url) {
  auto scheme = url.find("://");
  std::size_t begin = scheme == std::string_view::npos ? 0 : scheme + 3;
  auto end = url.find_first_of("/?#", begin);
  if (end == std::string_view::npos) end = url.size();
  auto at = url.rfind('@', end == 0 ? 0 : end - 1);
  if (at == std::string_view::npos || at < begin || at >= end) return std::nullopt;
  return userinfo_span{begin, at - begin};
}

}  // namespace

std::string redact_url(std::string_view url) {
  auto span = find_userinfo(url);
  if (!span) return std::string(url);
  auto userinfo = url.substr(span->begin, span->size);
  auto colon = userinfo.find(':');
  std::string shown = colon == std::string_view::npos
                          ? std::string(redacted_mark)  // a token
                          : std::string(userinfo.substr(0, colon + 1)) + std::string(redacted_mark);
  return std::string(url.substr(0, span->begin)) + shown +
         std::string(url.substr(span->begin + span->size));
}

std::string redacted_urls(const std::vector<std::string>& urls) {
  std::string text;
  for (const auto& u : urls) text += (text.empty() ? "" : ",") + redact_url(u);
  return text;
}

std::vector<std::string> url_secrets(std::string_view url) {
  auto span = find_userinfo(url);
  if (!span || span->size == 0) return {};
  auto userinfo = url.substr(span->begin, span->size);
  auto colon = userinfo.find(':');
  auto secret = colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1);
  if (secret.empty()) return {};
  return {std::string(secret)};
}

std::string redact_text(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (auto pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + redacted_mark.size()))
      text.replace(pos, secret.size(), redacted_mark);
  }
  return text;
}

result<std::string> read_secret_file(const std::string& option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return failure{"--" + option + ": cannot read '" + path + "'"};
  std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return failure{"--" + option + ": cannot read '" + path + "'"};
  if (!content.empty() && content.back() == '\n') {
    content.pop_back();
    if (!content.empty() && content.back() == '\r') content.pop_back();
  }
  if (content.empty()) return failure{"--" + option + ": '" + path + "' is empty"};
  return content;
}

nats_environment read_nats_environment(const environment_lookup& lookup) {
  auto get = [&lookup](const char* name) -> std::optional<std::string> {
    const char* value = lookup(name);
    if (!value || !*value) return std::nullopt;
    return std::string(value);
  };
  nats_environment e;
  e.url = get("NATS_URL");
  e.creds = get("NATS_CREDS");
  e.user = get("NATS_USER");
  e.password = get("NATS_PASSWORD");
  e.token = get("NATS_TOKEN");
  return e;
}

environment_lookup process_environment() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

}  // namespace parti
