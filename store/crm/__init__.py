"""CRM records (contacts, companies) and how stored mail links to them; see docs/crm.md."""
