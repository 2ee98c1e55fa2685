-- 011_status: the public status page counts arrivals per day over the last 30 days.
CREATE INDEX members_created_at ON members (created_at);
