// Public header of q2_k: the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/q2_k.hpp"
