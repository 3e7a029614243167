"""The service's fixtures (its MySQL, its local AWS, its modified templates), for the workbench's tests too."""

from tests.conftest import aws, mysql, mysql_server, orders_service, statements_sent, template_with

__all__ = ["aws", "mysql", "mysql_server", "orders_service", "statements_sent", "template_with"]
