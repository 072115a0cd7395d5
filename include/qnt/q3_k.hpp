// Public header of q3_k: the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/q3_k.hpp"
