-- hr: the review's current HR listing (uar snapshot --import FILE --kind hr), in file order
-- param: review the review label, e.g. 2026-Q4
SELECT review, email, employee_id, status, termination_date, department, title, manager_email, file_name, line, evidence_id
FROM v_hr
WHERE review = :review
ORDER BY line, email, employee_id;
