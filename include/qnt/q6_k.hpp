// Public header of q6_k: the format and the API.
#pragma once

#include "core/api.hpp"
#include "formats/q6_k.hpp"
