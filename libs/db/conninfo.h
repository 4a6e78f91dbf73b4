#pragma once

#include <map>
#include <string>

namespace billing::db {

// Turns a libpq connection string, URI ("postgresql://u:pw@h:5432/db?x=y")
// or key=value, into key=value form with `extra` settings added (unless the
// string already sets them). SOCI mangles URIs passed to it, so every
// connection goes through here. Throws std::invalid_argument (without the
// string, which may hold a password) when libpq cannot parse it.
std::string ToKeyValueConninfo(const std::string& url,
                               const std::map<std::string, std::string>& extra = {});

}  // namespace billing::db
