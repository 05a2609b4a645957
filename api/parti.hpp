#pragma once
// The umbrella header, installed as <parti/parti.hpp>: it includes every public header of the
// library, and nothing else. It lives in api/ with the embedding facade; the build tree links it
// as parti/parti.hpp, so that in-tree code includes it as an application does. CMakeLists.txt
// reads the public list from the includes below (PARTI_PUBLIC_HEADERS): a header added here is
// public, installed, and in the API reference. docs/EMBEDDING.md ("Public headers") names them.

/// \file
/// Everything an application needs to embed parti nodes, in one include.

/// \namespace parti
/// The whole library. Names in parti::detail are internal.

/// \mainpage parti-cpp API reference
///
/// parti assigns partitions to worker processes through NATS JetStream KV: no partition lost,
/// none owned twice, nothing moved without need. An application embeds a node in one of two
/// ways:
///  - a plain program uses the synchronous facade parti::embedded_node
///    (`parti/api/embedded_node.hpp`);
///  - an actor program (CAF 0.17) spawns a node with parti::spawn_node
///    (`parti/actors/node/node_actor.hpp`) and gives it a leader factory from
///    parti::make_leader_factory (`parti/actors/leader/leader_actor.hpp`).
///
/// `#include <parti/parti.hpp>` brings all of it. The headers it includes are the public API,
/// stable within a MAJOR version; the other installed headers are there only because public ones
/// include them, and may change in any release (docs/EMBEDDING.md, "Public headers").

// The embedding facade, for programs without an actor system of their own.
#include "parti/api/embedded_node.hpp"

// A node and its leader in an application's own CAF actor system; its lifecycle states.
#include "parti/actors/leader/leader_actor.hpp"
#include "parti/actors/node/lifecycle.hpp"
#include "parti/actors/node/node_actor.hpp"

// The partition consumer: a partition's messages to the node that owns it (docs/CONSUMING.md).
#include "parti/actors/consumer/consumer_actor.hpp"
#include "parti/runtime/consume/consume_config.hpp"

// Settings, time, the log sink, what is assigned and how.
#include "parti/runtime/clock.hpp"
#include "parti/runtime/config.hpp"
#include "parti/runtime/log.hpp"
#include "parti/runtime/partition_source.hpp"
#include "parti/runtime/strategy/consistent_hash.hpp"
#include "parti/runtime/strategy/strategy.hpp"

// The NATS connection, a group's buckets, and the metrics registry they report to.
#include "parti/runtime/metrics/metrics.hpp"
#include "parti/runtime/nats/connection.hpp"
#include "parti/runtime/nats/group_buckets.hpp"

// What an application receives (records, events, results) and their CAF registration.
#include "parti/messages/announce.hpp"
#include "parti/messages/consume_events.hpp"
#include "parti/messages/inspect.hpp"
#include "parti/messages/node_events.hpp"
#include "parti/messages/records.hpp"
#include "parti/messages/result.hpp"

// The version of the library and the commit it was built from.
#include "parti/version.hpp"
