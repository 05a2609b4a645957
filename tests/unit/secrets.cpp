#include <boost/test/unit_test.hpp>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "parti/runtime/secrets.hpp"

using namespace parti;

BOOST_AUTO_TEST_CASE(a_password_in_the_url_is_replaced_and_the_user_kept) {
  BOOST_TEST(redact_url("nats://user:pw@host:4222") == "nats://user:***@host:4222");
  BOOST_TEST(redact_url("tls://alice:s3cr%40t@10.0.0.5:4222/path?x=1") ==
             "tls://alice:***@10.0.0.5:4222/path?x=1");
}

BOOST_AUTO_TEST_CASE(a_token_in_the_url_is_replaced) {
  BOOST_TEST(redact_url("nats://tok3n@host") == "nats://***@host");
  BOOST_TEST(redact_url("nats://tok3n@host:4222") == "nats://***@host:4222");
}

BOOST_AUTO_TEST_CASE(a_password_containing_at_signs_or_colons_is_replaced_whole) {
  BOOST_TEST(redact_url("nats://u:p@ss:w@rd@host:4222") == "nats://u:***@host:4222");
}

BOOST_AUTO_TEST_CASE(urls_without_userinfo_are_unchanged) {
  BOOST_TEST(redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222");
  BOOST_TEST(redact_url("host:4222") == "host:4222");
  BOOST_TEST(redact_url("") == "");
  // An '@' after the authority is not userinfo.
  BOOST_TEST(redact_url("nats://host:4222/a@b") == "nats://host:4222/a@b");
}

BOOST_AUTO_TEST_CASE(a_url_without_a_scheme_is_redacted_too) {
  BOOST_TEST(redact_url("user:pw@host:4222") == "user:***@host:4222");
  BOOST_TEST(redact_url("tok@host:4222") == "***@host:4222");
}

BOOST_AUTO_TEST_CASE(a_list_is_redacted_entry_by_entry) {
  BOOST_TEST(redacted_urls({"nats://u:pw@a:4222", "nats://b:4222", "nats://t@c:4222"}) ==
             "nats://u:***@a:4222,nats://b:4222,nats://***@c:4222");
  BOOST_TEST(redacted_urls({}) == "");
}

BOOST_AUTO_TEST_CASE(the_secret_of_a_url_is_its_password_or_its_token) {
  BOOST_TEST(url_secrets("nats://u:pw@a:4222") == std::vector<std::string>{"pw"});
  BOOST_TEST(url_secrets("nats://tok@a:4222") == std::vector<std::string>{"tok"});
  BOOST_TEST(url_secrets("nats://u:@a:4222").empty());
  BOOST_TEST(url_secrets("nats://a:4222").empty());
}

BOOST_AUTO_TEST_CASE(every_occurrence_of_every_secret_is_replaced_in_a_text) {
  BOOST_TEST(redact_text("pw and pw, tok", {"pw", "", "tok"}) == "*** and ***, ***");
  BOOST_TEST(redact_text("nothing here", {"pw"}) == "nothing here");
  // A secret that the mark contains does not loop.
  BOOST_TEST(redact_text("a*b", {"*"}) == "a***b");
}

namespace {

struct temp_file {
  std::string path;
  explicit temp_file(const std::string& content) {
    path = (std::filesystem::temp_directory_path() /
            ("parti-secret-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++)))
               .string();
    std::ofstream(path, std::ios::binary) << content;
  }
  ~temp_file() { std::remove(path.c_str()); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_secret_file_loses_one_trailing_newline) {
  temp_file unix_line("s3cret\n");
  temp_file dos_line("s3cret\r\n");
  temp_file two_lines("s3cret\n\n");
  temp_file bare("s3cret");
  BOOST_TEST(*read_secret_file("nats-password-file", unix_line.path) == "s3cret");
  BOOST_TEST(*read_secret_file("nats-password-file", dos_line.path) == "s3cret");
  BOOST_TEST(*read_secret_file("nats-password-file", two_lines.path) == "s3cret\n");
  BOOST_TEST(*read_secret_file("nats-password-file", bare.path) == "s3cret");
}

BOOST_AUTO_TEST_CASE(a_missing_or_empty_secret_file_names_the_option_and_the_path) {
  auto missing = read_secret_file("nats-token-file", "/nonexistent/parti-token");
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.error() == "--nats-token-file: cannot read '/nonexistent/parti-token'");
  temp_file just_newline("\n");
  auto empty = read_secret_file("nats-token-file", just_newline.path);
  BOOST_REQUIRE(!empty);
  BOOST_TEST(empty.error() == "--nats-token-file: '" + just_newline.path + "' is empty");
}

BOOST_AUTO_TEST_CASE(the_environment_is_read_by_the_names_of_the_nats_tools) {
  std::map<std::string, std::string> env{{"NATS_URL", "nats://h:4222"},
                                         {"NATS_USER", "u"},
                                         {"NATS_PASSWORD", "pw"},
                                         {"NATS_TOKEN", ""}};
  auto e = read_nats_environment([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  BOOST_TEST(e.url.value_or("-") == "nats://h:4222");
  BOOST_TEST(e.user.value_or("-") == "u");
  BOOST_TEST(e.password.value_or("-") == "pw");
  BOOST_TEST(!e.token.has_value());  // empty counts as unset
  BOOST_TEST(!e.creds.has_value());
}
