"""Singer tap for Salesforce, built on Bulk API 2.0 query jobs."""
