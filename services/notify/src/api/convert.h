#pragma once

#include <vector>

#include "billing/notify/v1/notify_service.pb.h"
#include "domain/model.h"
#include "domain/ports.h"

// proto <-> domain for notify. The To* functions check shapes and throw
// errors::Error naming the field; recipients are normalized by the domain.
namespace billing::notify::api {

namespace v1 = ::billing::notify::v1;

domain::SendCommand ToCommand(const v1::SendInvoiceLinkRequest& req, const std::string& caller);
domain::SendCommand ToCommand(const v1::SendReceiptRequest& req, const std::string& caller);
domain::SendCommand ToCommand(const v1::SendBookingConfirmationRequest& req, const std::string& caller);
domain::SendCommand ToCommand(const v1::SendPaymentReminderRequest& req, const std::string& caller);

void ToProto(const domain::Notification& n, const std::vector<domain::DeliveryAttempt>& attempts,
             v1::Notification* out);

}  // namespace billing::notify::api
