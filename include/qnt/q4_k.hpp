// Public header of q4_k: the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/q4_k.hpp"
