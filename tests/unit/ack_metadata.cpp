#include <boost/test/unit_test.hpp>

#include <string>

#include "parti/runtime/consume/ack_metadata.hpp"

using namespace parti;

BOOST_AUTO_TEST_CASE(the_nine_token_form_of_nats_server_2_9) {
  auto m = parse_ack_subject("$JS.ACK.ORDERS.shop_p__3_1a2b3c4d.2.1042.17.1700000000123456789.5");
  BOOST_REQUIRE(m.has_value());
  BOOST_TEST(m->stream == "ORDERS");
  BOOST_TEST(m->consumer == "shop_p__3_1a2b3c4d");
  BOOST_TEST(m->delivery_count == 2u);
  BOOST_TEST(m->stream_seq == 1042u);
  BOOST_TEST(m->consumer_seq == 17u);
  BOOST_TEST(m->timestamp_ns == 1700000000123456789);
  BOOST_TEST(m->pending == 5u);
}

BOOST_AUTO_TEST_CASE(the_form_with_domain_and_account_hash) {
  auto none = parse_ack_subject("$JS.ACK._.ACCHASH.ORDERS.c1.1.2.3.4.0.tokenXYZ");
  BOOST_REQUIRE(none.has_value());
  BOOST_TEST(none->stream == "ORDERS");
  BOOST_TEST(none->consumer == "c1");
  BOOST_TEST(none->delivery_count == 1u);
  BOOST_TEST(none->stream_seq == 2u);
  BOOST_TEST(none->consumer_seq == 3u);
  BOOST_TEST(none->timestamp_ns == 4);
  BOOST_TEST(none->pending == 0u);
  auto hub = parse_ack_subject("$JS.ACK.hub.ACCHASH.S.c.7.8.9.10.11.tok.more");
  BOOST_REQUIRE(hub.has_value());
  BOOST_TEST(hub->stream == "S");
  BOOST_TEST(hub->delivery_count == 7u);
  BOOST_TEST(hub->pending == 11u);
}

BOOST_AUTO_TEST_CASE(the_largest_numbers_parse) {
  auto m = parse_ack_subject(
      "$JS.ACK.S.c.18446744073709551615.18446744073709551615.1.9223372036854775807.0");
  BOOST_REQUIRE(m.has_value());
  BOOST_TEST(m->delivery_count == 18446744073709551615u);
  BOOST_TEST(m->timestamp_ns == 9223372036854775807);
}

BOOST_AUTO_TEST_CASE(other_shapes_are_no_ack_subjects) {
  for (std::string bad : {
           "", "_INBOX.abc",
           "$JS.ACK.S.c.1.2.3.4",                       // 8 tokens
           "$JS.ACK.S.c.1.2.3.4.5.6",                   // 10 tokens
           "$JS.ACK.d.h.S.c.1.2.3.4.5",                 // 11 tokens
           "$JS.API.S.c.1.2.3.4.5",                     // not ACK
           "$js.ack.S.c.1.2.3.4.5",                     // case matters
           "$JS.ACK..c.1.2.3.4.5",                      // empty stream
           "$JS.ACK.S..1.2.3.4.5",                      // empty consumer
           "$JS.ACK.S.c.x.2.3.4.5",                     // not a number
           "$JS.ACK.S.c.1.2.3.4.",                      // empty number
           "$JS.ACK.S.c.-1.2.3.4.5",                    // negative
           "$JS.ACK.S.c.1.2.3.-4.5",                    // negative timestamp
           "$JS.ACK.S.c.+1.2.3.4.5",                    // a sign
           "$JS.ACK.S.c.1.2.3.4.5x",                    // trailing text
           "$JS.ACK.S.c.18446744073709551616.2.3.4.5",  // too large
           "$JS.ACK.S.c.1.2.3.9223372036854775808.5",   // timestamp too large
           "$JS.ACK.d.h.S.c.1.2.3.x.5.t",               // long form, not a number
       })
    BOOST_TEST(!parse_ack_subject(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(ack_bodies) {
  BOOST_TEST(ack_body::ack == "+ACK");
  BOOST_TEST(ack_body::nak == "-NAK");
  BOOST_TEST(ack_body::in_progress == "+WPI");
  BOOST_TEST(ack_body::term == "+TERM");
  BOOST_TEST(ack_body::nak_with_delay(0) == "-NAK");
  BOOST_TEST(ack_body::nak_with_delay(-5) == "-NAK");
  BOOST_TEST(ack_body::nak_with_delay(1500000000) == "-NAK {\"delay\": 1500000000}");
}
