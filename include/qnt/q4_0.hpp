// Public header of q4_0 (a symmetric<> instance): the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/symmetric.hpp"
