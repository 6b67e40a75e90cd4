"""URLs of the chat: the widget's (cross-origin) endpoints, the visitor's files, the desk's actions."""

from django.urls import path

from . import views

app_name = "livechat"
urlpatterns = [
    path("chat/widget.js", views.widget_script, name="widget"),
    path("chat/<str:key>/config.json", views.widget_config, name="config"),
    path("chat/<str:key>/upload/", views.upload, name="upload"),
    path("chat/<str:key>/offline/", views.offline_message, name="offline"),
    path("chat/f/<str:token>/", views.visitor_file, name="file"),
    path("chat/desk/<int:number>/accept/", views.desk_accept, name="desk_accept"),
    path("chat/desk/<int:number>/transfer/", views.desk_transfer, name="desk_transfer"),
    path("chat/desk/<int:number>/follow-up/", views.desk_follow_up, name="desk_follow_up"),
    path("chat-demo/", views.chat_demo, name="demo"),
]
