INSERT INTO dim_indicator (indicator_code, indicator_name, unit, section_code, section_name, value_type,
                           decimals, reporter, aggregation, min_value, max_value, sort_order)
VALUES (:indicator_code, :indicator_name, :unit, :section_code, :section_name, :value_type,
        :decimals, :reporter, :aggregation, :min_value, :max_value, :sort_order)
ON CONFLICT (indicator_code) DO UPDATE SET
    indicator_name = excluded.indicator_name, unit = excluded.unit, section_code = excluded.section_code,
    section_name = excluded.section_name, value_type = excluded.value_type, decimals = excluded.decimals,
    reporter = excluded.reporter, aggregation = excluded.aggregation, min_value = excluded.min_value,
    max_value = excluded.max_value, sort_order = excluded.sort_order;
