// Public header of q5_k: the format and the API.
#pragma once

#include "core/api.hpp"
#include "formats/q5_k.hpp"
