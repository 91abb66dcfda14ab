-- Records of several kinds (issue 16): the contacts table holds every record. A contact keeps its
-- plain id; a company, deal or conversation is stored as "<kind>:<id>" (e.g. "deal:D-7"), so ids are
-- unique within their kind and every foreign key to contacts (instances, signals, history) works
-- for any kind unchanged. `kind` is derived from the id and cannot disagree with it.
ALTER TABLE contacts ADD COLUMN kind text NOT NULL GENERATED ALWAYS AS (
    CASE WHEN id LIKE 'company:%' THEN 'company'
         WHEN id LIKE 'deal:%' THEN 'deal'
         WHEN id LIKE 'conversation:%' THEN 'conversation'
         ELSE 'contact' END) STORED;
-- A contact is named by its plain id: "contact:C-1" is spelled "C-1" everywhere.
ALTER TABLE contacts ADD CONSTRAINT contacts_plain_contact_id CHECK (id NOT LIKE 'contact:%');

-- Fields every record has, read from its attributes (set by `start --attr`, bulk files, CRM sources):
-- the company it belongs to (`company` attribute: the company's id without its prefix), the contact a
-- conversation belongs to, and its status, priority and source.
ALTER TABLE contacts ADD COLUMN company text GENERATED ALWAYS AS (attributes ->> 'company') STORED;
ALTER TABLE contacts ADD COLUMN parent_contact text GENERATED ALWAYS AS (attributes ->> 'contact') STORED;
ALTER TABLE contacts ADD COLUMN status text GENERATED ALWAYS AS (attributes ->> 'status') STORED;
ALTER TABLE contacts ADD COLUMN priority text GENERATED ALWAYS AS (attributes ->> 'priority') STORED;
ALTER TABLE contacts ADD COLUMN source text GENERATED ALWAYS AS (attributes ->> 'source') STORED;
-- A company's records, found when its owner changes (account inheritance).
CREATE INDEX contacts_company ON contacts (company) WHERE company IS NOT NULL;

-- Set by a manual reassignment: the record keeps that owner when its company's owner changes.
ALTER TABLE contacts ADD COLUMN pinned boolean NOT NULL DEFAULT false;

-- `batonctl records merge KEEP DROP`: the dropped record stays (its history keeps its id) and names
-- the record it was merged into; its instances and signals now belong to the kept one.
ALTER TABLE contacts ADD COLUMN merged_into text REFERENCES contacts (id);
CREATE INDEX contacts_merged_into ON contacts (merged_into) WHERE merged_into IS NOT NULL;

-- Duplicate detection on enrollment (`on_duplicate:`) by normalised email, the default key.
CREATE INDEX contacts_email ON contacts (kind, lower(btrim(attributes ->> 'email')));
