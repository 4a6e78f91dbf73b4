#pragma once

#include <string>

#include "domain/ports.h"

// RFC 5322 / MIME mail, built by hand so every header is under our control.
namespace billing::notify::clients {

// "=?UTF-8?B?...?=" words (folded) for non-ASCII text; ASCII comes back as is.
std::string EncodeHeaderText(const std::string& text);
// "Name <addr>" with the name quoted or encoded as needed; just "<addr>"
// without a name.
std::string FormatAddress(const std::string& name, const std::string& address);
// Base64 with CRLF every 76 characters.
std::string Base64Lines(const std::string& data);
// "Sat, 21 Nov 2026 23:19:00 +0000".
std::string RfcDate(clock::Time t);

// The whole message: Date, Message-ID (<notification id@sender domain>, the
// same on every retry), From, To, Subject, MIME-Version, and a
// multipart/alternative body with a text/plain and a text/html part, both
// UTF-8 and base64, CRLF line endings.
std::string BuildEmail(const domain::OutgoingMessage& message, const std::string& from_address);

}  // namespace billing::notify::clients
