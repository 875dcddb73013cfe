"""`python -m harness.config`: print the config key table (docs/harness.md, "Config schema")."""
from .schema import markdown_key_table

print(markdown_key_table())
