// Public header of q5_k: the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/q5_k.hpp"
