INSERT INTO dim_unit (unit_code, unit_name, kind, placeholder)
VALUES (:unit_code, :unit_name, :kind, :placeholder)
ON CONFLICT (unit_code) DO UPDATE SET
    unit_name = excluded.unit_name, kind = excluded.kind, placeholder = excluded.placeholder;
