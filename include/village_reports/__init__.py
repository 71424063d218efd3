"""毛田镇 village reports: from village workbooks to township statistics.

One module per stage of the data's journey: catalogue -> template -> reader ->
validation -> warehouse -> totals -> report -> feedback. Each is plain functions over
plain data, importable and testable without a running Airflow. The data they pass on is
defined in ``model`` (records, problems, statuses), and every problem code the stages
raise is registered, with its severity and message, in ``problems``.
"""
