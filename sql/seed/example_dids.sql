-- example_dids.sql - the four example DIDs from the design notes.
--
-- Demo and test data, not for production. Safe to load again: an existing
-- DID is updated to these values, nothing is duplicated.
--   mariadb vagent < sql/seed/example_dids.sql

INSERT INTO did_company_map (did, company_name, clean_name, trade_type, callout_fee, area) VALUES
('442039962952', 'GEORGE THE PLUMBER LTD', 'George The Plumber', 'plumbing', 48, 'London'),
('442071234567', 'SPARK ELEC SERVICES', 'Spark Electrical', 'electrical', 50, 'London'),
('441211234567', 'DRAIN CLEAR BHAM', 'Drain Clear Birmingham', 'drainage', 49, 'Birmingham'),
('443001234567', 'LOCKFIX 24/7', 'LockFix', 'locksmith', 47, 'Manchester')
ON DUPLICATE KEY UPDATE
    company_name = VALUES(company_name),
    clean_name   = VALUES(clean_name),
    trade_type   = VALUES(trade_type),
    callout_fee  = VALUES(callout_fee),
    area         = VALUES(area);
