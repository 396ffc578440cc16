"""What `make demo` and the example-DAG tests share: an Airflow home, the people around a DAG (an
approver, a paying customer), running an example DAG under ``dag.test()`` against the sandbox,
the stories told with the four example DAGs, and rendering what happened.

Not DAG code: listed in ``example_dags/.airflowignore``.
"""
