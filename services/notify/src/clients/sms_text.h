#pragma once

#include <string>

namespace billing::notify::clients {

struct SmsSize {
  bool gsm7 = true;    // fits the GSM 03.38 alphabet (else UCS-2)
  int units = 0;       // septets (GSM-7) or UTF-16 code units (UCS-2)
  int segments = 0;    // 1 up to 160/70 units; then 153/67 per segment
};

// How many SMS segments a UTF-8 body takes.
SmsSize MeasureSms(const std::string& utf8);

}  // namespace billing::notify::clients
