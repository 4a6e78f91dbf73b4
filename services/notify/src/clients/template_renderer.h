#pragma once

#include <map>
#include <string>

#include "domain/ports.h"

namespace billing::notify::clients {

// Renders notifications from Mustache templates on disk (see
// services/notify/templates/README.md), loaded once at start.
class TemplateRenderer final : public domain::Renderer {
 public:
  // Throws std::runtime_error naming the first missing template.
  explicit TemplateRenderer(const std::string& dir);
  domain::Content Render(const domain::SendCommand& cmd) const override;

 private:
  const std::string& Template(domain::Kind kind, const std::string& part) const;
  std::map<std::string, std::string> templates_;  // "<kind>/<part>" -> text
};

}  // namespace billing::notify::clients
