from django.http import HttpResponse


def version(request):
    return HttpResponse("v0")
