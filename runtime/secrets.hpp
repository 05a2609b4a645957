#pragma once
// The secrets of a NATS connection (passwords, tokens, the userinfo of a URL): where they come
// from besides the command line (the environment, files), and how they are kept out of every
// text a program shows (logs, /status, error messages). Pure: the environment is read through
// an injected lookup, so the rules are unit-tested without touching the process's environment.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parti/messages/result.hpp"

namespace parti {

/// What stands in for a secret in shown text.
inline constexpr std::string_view redacted_mark = "***";

/// The URL with the secret of its userinfo replaced: "nats://user:pw@host:4222" ->
/// "nats://user:***@host:4222"; a token ("nats://tok@host") -> "nats://***@host". A URL without
/// userinfo is returned unchanged. Works without a scheme too ("user:pw@host:4222").
std::string redact_url(std::string_view url);

/// The URLs redacted and joined with commas, as --nats-url takes them.
std::string redacted_urls(const std::vector<std::string>& urls);

/// The secrets a URL carries in its userinfo: the password, or the token when there is no
/// user name; empty when it has none.
std::vector<std::string> url_secrets(std::string_view url);

/// `text` with every occurrence of every non-empty secret replaced by redacted_mark, for texts
/// made by others (nats.c's error details) that may quote what they were given.
std::string redact_text(std::string text, const std::vector<std::string>& secrets);

/// Reads a secret from a file (--nats-password-file, --nats-token-file): the content without
/// one trailing newline ("\n" or "\r\n"). A missing, unreadable or empty file is a failure
/// naming `option` and the path, never the content.
result<std::string> read_secret_file(const std::string& option, const std::string& path);

/// The NATS settings of the environment, as the nats CLI and the client libraries name them.
/// A variable that is unset or empty is absent.
struct nats_environment {
  std::optional<std::string> url;       // NATS_URL
  std::optional<std::string> creds;     // NATS_CREDS
  std::optional<std::string> user;      // NATS_USER
  std::optional<std::string> password;  // NATS_PASSWORD
  std::optional<std::string> token;     // NATS_TOKEN
};

/// Looks a variable up by name; nullptr when it is not set (like std::getenv).
using environment_lookup = std::function<const char*(const char*)>;

/// Reads NATS_URL, NATS_CREDS, NATS_USER, NATS_PASSWORD and NATS_TOKEN through `lookup`.
nats_environment read_nats_environment(const environment_lookup& lookup);

/// The process's environment (std::getenv).
environment_lookup process_environment();

}  // namespace parti
