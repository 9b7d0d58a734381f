"""uar on Airflow: the binary does the work (and keeps the evidence); the DAG
only schedules it and reads its exit code. Secrets come from Airflow
Variables marked sensitive (or a secrets backend) into the environment.

Exit codes: 0 ok; 1 retry (a re-run completes the rest, never duplicates);
2 config, 3 integrity, 4 credentials: a human must look; 5 policy gate.
"""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

UAR_DIR = "/srv/uar"
ENV = {
    "UAR_OKTA_TOKEN": "{{ var.value.uar_okta_token }}",
    "UAR_JIRA_TOKEN": "{{ var.value.uar_jira_token }}",
    "UAR_SLACK_TOKEN": "{{ var.value.uar_slack_token }}",
    "UAR_ACTOR": "airflow:{{ dag.dag_id }}/{{ task.task_id }}/{{ run_id }}",
}
DEFAULTS = {
    "retries": 2,
    "retry_delay": timedelta(minutes=15),
    # exit codes 2, 3 and 4 cannot be fixed by a retry
    "retry_exponential_backoff": False,
}


def uar(task_id, command, **kw):
    return BashOperator(task_id=task_id, bash_command=f"cd {UAR_DIR} && {command}",
                        env=ENV, append_env=True, **kw)


with DAG("uar_daily", start_date=datetime(2026, 10, 1), schedule="0 7,15 * * *",
         catchup=False, max_active_runs=1, default_args=DEFAULTS) as daily:
    uar("parse_decisions", "uar parse-decisions") >> uar("revoke", "uar revoke") >> uar("remind", "uar remind")

with DAG("uar_quarterly", start_date=datetime(2026, 10, 1), schedule="0 6 1 1,4,7,10 *",
         catchup=False, max_active_runs=1, default_args=DEFAULTS) as quarterly:
    (uar("snapshot", "uar snapshot")
     # exit 5 means HIGH findings exist: owners see them in their tickets
     >> uar("score", "uar score --fail-on high || [ $? -eq 5 ]")
     >> uar("publish", "uar publish"))

with DAG("uar_drift", start_date=datetime(2026, 10, 1), schedule="30 2 * * *",
         catchup=False, max_active_runs=1, default_args={**DEFAULTS, "retries": 0}) as drift:
    (uar("snapshot", 'uar snapshot --review "{{ ds }}-drift"')
     >> uar("diff", 'uar diff --from "{{ macros.ds_format(ds, "%Y-%m-%d", "%Y") }}-Q{{ (execution_date.month - 1) // 3 + 1 }}" '
                    '--to "{{ ds }}-drift" --fail-on regrant,new-high'))
