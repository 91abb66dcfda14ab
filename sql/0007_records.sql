-- Records of several kinds (issue 16): the contacts table holds every record. A contact keeps its
-- plain id; a company, deal or conversation is stored as "<kind>:<id>" (e.g. "deal:D-7"), so ids are
-- unique within their kind and every foreign key to contacts (instances, signals, history) works
-- for any kind unchanged. The kind is read from the id, never stored apart from it (docs/records.md).
--
-- Every change here is cheap on a large, busy contacts table: no table rewrite (columns without a
-- volatile default, a constraint NOT VALID), only index builds.

-- A contact is named by its plain id: "contact:C-1" is spelled "C-1" everywhere. NOT VALID: checked
-- for every new or changed row, without scanning the existing ones under an exclusive lock.
ALTER TABLE contacts ADD CONSTRAINT contacts_plain_contact_id CHECK (id NOT LIKE 'contact:%') NOT VALID;

-- Set by a manual reassignment: the record keeps that owner when its company's owner changes.
ALTER TABLE contacts ADD COLUMN pinned boolean NOT NULL DEFAULT false;

-- `batonctl records merge KEEP DROP`: the dropped record stays (its history keeps its id) and names
-- the record it was merged into; its instances and signals now belong to the kept one. Set only by
-- the merge, which checks the kept record exists (records are never deleted).
ALTER TABLE contacts ADD COLUMN merged_into text;
CREATE INDEX contacts_merged_into ON contacts (merged_into) WHERE merged_into IS NOT NULL;

-- A company's records (its id, without or with the "company:" prefix, in the `company` attribute),
-- found when its owner changes (account inheritance).
CREATE INDEX contacts_company ON contacts ((attributes ->> 'company')) WHERE attributes ? 'company';

-- Duplicate detection on enrollment (`on_duplicate:`) by normalised email, the default key.
CREATE INDEX contacts_email ON contacts ((lower(btrim(attributes ->> 'email')))) WHERE attributes ? 'email';
