// Public header of iq4_nl: the format and the API.
#pragma once

#include "core/api.hpp"
#include "kernels/dispatch.hpp"
#include "formats/iq4_nl.hpp"
