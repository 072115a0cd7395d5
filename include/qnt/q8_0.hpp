// Public header of q8_0 (a symmetric<> instance): the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/symmetric.hpp"
