-- The years signed off and not reopened since: a file loaded for one of them is held
-- (received_after_signoff), never in force. Read inside the load's transaction.
SELECT year FROM signoff_state WHERE locked;
