-- What an attempt sends to the payments service beyond its amount, fixed
-- when the attempt starts: a retry of the same attempt must send the same
-- request (payments fingerprints it), even if the booking was renamed or
-- its activity changed meanwhile.
ALTER TABLE pay_attempts
  ADD COLUMN booking_id  TEXT NOT NULL DEFAULT '',
  ADD COLUMN description TEXT NOT NULL DEFAULT '';
