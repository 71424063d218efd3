SELECT digest FROM schema_state WHERE name = 'warehouse';
