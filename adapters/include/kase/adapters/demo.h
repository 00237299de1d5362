// `kase demo`: a realistic month of eKase traffic for a ministry and its
// institutions, decided and persisted by the embedded ledger.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kase/projections/status.h"

namespace kase::adapters {

/// The request stream of the demo, in log order (binary requests). Same seed,
/// same stream.
std::vector<std::string> demo_requests(uint64_t seed = 1);

struct DemoSummary {
  size_t clients = 0, accounts = 0, users = 0;
  uint64_t requests = 0, accepted = 0, rejected = 0;
  std::map<std::string, uint64_t> rejections;  // "reason (rule)" -> count
  uint64_t orders_submitted = 0, orders_pending = 0, orders_cancelled = 0;
  std::string state_hash, chain_head;
  double seconds = 0;
};

/// Runs the demo into the data directory `dir` (which must hold no log yet).
Status run_demo(const std::string& dir, DemoSummary* out);

}  // namespace kase::adapters
