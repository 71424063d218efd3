SELECT receipt_id FROM file_receipt;
