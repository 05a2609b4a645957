#pragma once
// Stable worker ids `<prefix>-<n>` (docs/WIRE.md): which id to try next, and whether a
// claim is still ours while it is renewed by compare-and-swap.
//
// The id_claimer actor lists the taken keys once, asks id_pool for a candidate, tries to Create
// it, and on "already exists" adds it to the taken set and asks again, counting the races it
// lost. Once it holds an id, a claim_keeper tells it when to renew, what to do after each
// outcome, and when the id is lost.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "parti/messages/result.hpp"
#include "parti/runtime/clock.hpp"

namespace parti {

/// "<prefix>-<n>", e.g. format_worker_id("worker", 7) == "worker-7".
std::string format_worker_id(std::string_view prefix, std::uint32_t n);

/// The n of "<prefix>-<n>" in canonical decimal (no sign, no leading zeros, fits 32 bits);
/// nothing for any other key, including keys of another prefix.
std::optional<std::uint32_t> parse_worker_id(std::string_view prefix, std::string_view key);

class id_pool {
 public:
  /// Ids are <prefix>-<min> .. <prefix>-<max>; a preferred id outside that range is ignored.
  id_pool(std::string prefix, std::uint32_t min, std::uint32_t max,
          std::optional<std::uint32_t> preferred = std::nullopt);

  /// The id to try next given the keys known to be taken (keys of other prefixes, or not ids at
  /// all, are ignored): the preferred id if it is free, else the lowest free one. Fails with a
  /// message naming the range when every id is taken.
  ///
  /// `races_lost`: Creates since the listing that found their candidate taken. After k of them
  /// the candidate is drawn (`draw`, uniform in [0, 1)) from the lowest 2^k ids not known to be
  /// taken. Claimers that listed the same ids at once (a fleet starting together) would otherwise
  /// all race for the lowest free id, then the next: n claimers, n(n+1)/2 Creates. Spread, about
  /// log2(n) rounds and 10 n Creates for n = 1000. The price is gaps: claimers that start
  /// together do not get the lowest ids exactly (20 at once: ids up to about 60, rarely 200).
  /// A claimer alone takes the lowest free id, and a preferred id is never drawn.
  result<std::string> next_candidate(const std::set<std::string>& taken_keys,
                                     std::uint32_t races_lost = 0, double draw = 0) const;

  /// Prefers `id` from now on (the id a claimer held last, so that a process that lost its id
  /// in an outage takes it back when it is still free, and its partitions stay where they
  /// are). An id that is not of this pool changes nothing.
  void prefer(std::string_view id);
  std::optional<std::uint32_t> preferred() const { return preferred_; }

  std::string format(std::uint32_t n) const { return format_worker_id(prefix_, n); }
  std::optional<std::uint32_t> parse(std::string_view key) const;

  std::uint32_t size() const { return max_ - min_ + 1; }

 private:
  std::string prefix_;
  std::uint32_t min_;
  std::uint32_t max_;
  std::optional<std::uint32_t> preferred_;
};

// -- keeping a claim ----------------------------------------------------------------------------

/// The answer to an `Update(key, value, last_revision)` renewal.
enum class renew_outcome {
  renewed,         // the store accepted it: a new revision
  wrong_revision,  // someone else wrote the key since our last revision
  not_found,       // the key expired or was deleted
  unknown,         // timeout or connection error: the write may or may not have landed
};

/// The answer to a `Get(key)` that checks the claim after an unknown outcome.
enum class read_outcome {
  ours,       // the value names our instance (at the revision given with it)
  not_ours,   // another instance holds the key
  not_found,  // nobody holds it
  unknown,    // timeout or connection error
};

enum class claim_health {
  held,       // confirmed by the store within the last TTL/3 (or the renewal is just due)
  uncertain,  // the last operation had no answer: checking until the claim could have expired
  lost,       // gone or possibly gone: stop owning anything and claim again
};
std::string_view to_string(claim_health x);

/// The next operation on the claim.
enum class claim_action {
  wait,        // nothing before next_deadline()
  renew,       // Update(key, value, revision())
  read_back,   // Get(key): did a timed-out renewal land?
  stop_using,  // the id is lost
};
std::string_view to_string(claim_action x);

/// Keeps one claim. Time points passed as `sent_at` are when the request was sent: the store
/// stored it no earlier, so the claim lasts at least until sent_at + ttl. The caller runs one
/// operation at a time and asks due() when next_deadline() has passed.
///
/// Rules: renew every TTL/3 after the last confirmed write. A renewal refused with the wrong
/// revision or not found means the id is lost. An unknown outcome makes the claim uncertain:
/// the keeper reads the key back every retry interval; if the value is ours it adopts the
/// revision and renews at once; if it is not ours or absent the id is lost; if it still cannot
/// tell when the claim could have expired (last confirmed sent_at + TTL), the id is lost.
/// Declaring "lost" when in doubt is the safe side: the node stops owning and claims again.
class claim_keeper {
 public:
  /// `revision` and `sent_at` of the Create that won the claim. retry_interval defaults to
  /// TTL/30 (1 s with the default 30 s id TTL).
  claim_keeper(duration ttl, std::uint64_t revision, time_point sent_at,
               std::optional<duration> retry_interval = std::nullopt);

  claim_health health() const { return health_; }
  std::uint64_t revision() const { return revision_; }

  /// No other process can hold the id before this time.
  time_point safe_until() const { return confirmed_at_ + ttl_; }

  /// When due() has something to do (time passing alone can make the claim lost).
  time_point next_deadline() const;

  /// What to do now; returns stop_using (and marks the claim lost) once it could have expired.
  claim_action due(time_point now);

  /// The result of a renewal sent at `sent_at`.
  claim_health on_renew(renew_outcome outcome, std::uint64_t new_revision, time_point sent_at,
                        time_point now);

  /// The result of a read-back; `revision` is the key's revision when the value is ours.
  claim_health on_read(read_outcome outcome, std::uint64_t revision, time_point now);

 private:
  void become_uncertain(time_point now);
  bool could_have_expired(time_point now) const { return now >= safe_until(); }

  duration ttl_;
  duration retry_interval_;
  std::uint64_t revision_;
  time_point confirmed_at_;  // sent_at of the last write the store confirmed
  claim_health health_ = claim_health::held;
  bool verified_ = false;  // uncertain, but a read-back showed the key is still ours
  time_point retry_at_{};
};

}  // namespace parti
