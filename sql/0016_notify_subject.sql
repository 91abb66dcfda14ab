-- Email subject per notify step (issue 13): a notify step to an email channel may carry a subject
-- template, rendered with the message's variables when the step runs; the outbox row keeps the
-- rendered subject for the relay (NULL: the channel's own subject). Erasing a contact clears it
-- with the message, since a subject may carry the contact's attributes.
ALTER TABLE outbox ADD COLUMN subject text;
