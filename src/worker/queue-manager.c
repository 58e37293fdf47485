/* placeholder */
typedef int postie_placeholder_queue_manager;
