// StatusOf: drops the value of a Result, keeping its error (GCC 12's std::expected has no
// transform()). Private to store/.
//
// Thread-safety: a pure function.
#pragma once

#include <utility>

#include "common/error.h"

namespace hangar::store {

template <typename T>
Status StatusOf(Result<T>&& r) {
  if (!r) return std::unexpected(std::move(r).error());
  return Ok();
}

}  // namespace hangar::store
