// The render action of Chromaluma Restore (numbered stages, abort checked between them).
#pragma once

#include "Instance.h"

namespace chromaluma {

OfxStatus render(Instance& instance, OfxPropertySetHandle inArgs);

}  // namespace chromaluma
