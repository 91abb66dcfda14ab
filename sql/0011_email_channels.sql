-- Email channels (issue 13): channels of type email (spec: host, port, from, starttls,
-- username_env and password_env naming the variables that hold the SMTP credentials, subject,
-- ca_file; never a password). A notify step's message goes to the recipient's email address.
ALTER TABLE channels DROP CONSTRAINT channels_type_check;
ALTER TABLE channels ADD CONSTRAINT channels_type_check
    CHECK (type IN ('webhook', 'slack', 'log', 'hubspot', 'salesforce', 'email'));
